"""Avro contract between the bridge and the consumers: schemas, codec, typed event models."""
