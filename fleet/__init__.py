"""edgesync fleet service: report ingest, fleet status, staged rollouts."""
