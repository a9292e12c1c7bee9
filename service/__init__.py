"""Service desk: requests from every channel, triage, queues, SLA clocks on business calendars, surveys."""
