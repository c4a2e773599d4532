"""The one place that imports both engines: weight transfer scratch <-> torch and parity checks."""
