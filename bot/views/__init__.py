"""The coordinators' read-only views: /status, /patient, the exports and the charts."""
