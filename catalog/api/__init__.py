"""REST API of the catalog: items, categories, reviews, events, token login."""
