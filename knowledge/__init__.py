"""Knowledge: fault codes (J1939 SPN/FMI, DM1 bytes, OBD-II, blink codes), entries, articles, vehicle faults, fixes.

Public functions for the domains above (service, community); docs/knowledge.md has the full table:

- parse a code: `knowledge.codes.parse_code(text)`, `knowledge.codes.parse_dm1(data, source_address)`;
- look an entry up with fallback: `knowledge.entries.lookup_text(session, text, vehicle)` (or `lookup_code`),
  `knowledge.answers.answer_code(...)` with the network's common fixes and linked articles;
- search in Chinese: `knowledge.entries.search_entries`, `knowledge.articles.search_articles`, and for other
  tables `knowledge.search.fold` and `knowledge.search.text_matches`;
- record a vehicle fault: `knowledge.faults.record_fault` (unchecked) or `record_driver_fault`,
  `record_check_in_faults`, `record_telematics_report` (checked);
- record a fix: `knowledge.fixes.record_fix(session, actor, fault, kind, case_ref, ...)`.
"""
