"""The org's REST API over HTTPS (aiohttp): OAuth, SOAP login, query, sObjects, collections."""
