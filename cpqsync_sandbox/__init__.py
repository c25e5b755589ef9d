"""Local stand-ins that are part of the product: embedded Kafka, org simulator, Stripe emulator."""
