"""Ray Serve applications: the spam classifier, canary routing, HTTP API."""
