"""Configuration, the `mailray` CLI and starting the platform on Ray."""
