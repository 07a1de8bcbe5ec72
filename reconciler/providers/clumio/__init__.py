"""The Clumio provider: the REST client (connections, organizational deployment parameters, the template) with its
retries, proxies and token handling."""
