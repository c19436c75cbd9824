"""The dashboard has no tables of its own: it reads the warehouse through selectors."""
