"""Network: highways, service shops, search (nearest and ahead), bookings, roadside assistance, coverage."""
