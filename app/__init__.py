"""Milepost core: configuration, database, security, signing, geography and the CRM every domain builds on."""
