"""The MCP endpoint (``/mcp``): the service's tools for agents, behind the API's tokens."""

from app.mcp.endpoint import McpEndpoint

__all__ = ["McpEndpoint"]
