"""The HTTP layer: routes, dependencies, error mapping and body limits."""
