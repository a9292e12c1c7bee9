"""Knowledge: fault codes (J1939 SPN/FMI, DM1 bytes, OBD-II, blink codes), entries, articles, vehicle faults, fixes."""
