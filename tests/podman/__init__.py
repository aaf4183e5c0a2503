"""Tests that run containers with podman and the locally built images (``images/build.sh``)."""
