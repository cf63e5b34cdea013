"""SQL-on-FHIR v2: ViewDefinition model, FHIRPath parser, SQL compiler, bundled views."""
