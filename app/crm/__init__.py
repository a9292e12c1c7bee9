"""CRM: organizations (OEM, factories, warehouses, dealers, shops, fleets), customers and vehicles (VIN)."""
