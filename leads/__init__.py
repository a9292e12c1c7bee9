"""Leads: touchpoints turned into leads, public and private pools with their rules, stages, and the funnel."""
