"""HTTP routes, one module per resource; each parses, calls one domain function, replies."""
