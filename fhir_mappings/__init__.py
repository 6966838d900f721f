"""fhir_mappings."""
