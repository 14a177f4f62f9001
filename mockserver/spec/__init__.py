"""The served OpenAPI document: read into typed operations, models and request checks."""
