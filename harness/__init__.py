"""static-pod-harness: end-to-end tests of how the kubelet runs static pods, on kind clusters."""
