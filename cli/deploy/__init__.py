"""`python -m cli deploy`: platform files (ECS, Kubernetes, a Procfile platform) generated from settings."""
