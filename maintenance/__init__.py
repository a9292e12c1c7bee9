"""Maintenance: the OEM's service plans per model and duty cycle, meter readings, what each truck has due, resets
from completed bookings (with the genuine parts fitted as evidence) and due-soon reminders."""
