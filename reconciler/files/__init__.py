"""Files: the local files clumio-org reads and writes — the desired-state file, the plan file, the drift ignore file
and its baseline — bounded, located and atomic. Bytes in and out only: config/, plan/ and drift/ parse and format
them without touching the file system."""
