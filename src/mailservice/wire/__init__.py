"""The JSON shapes of the HTTP API: the request and response models that the server validates and
documents (OpenAPI) and that the client parses. Neither side owns them, so neither imports the other;
they depend only on the domain and pydantic."""
