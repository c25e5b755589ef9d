"""The simulated org's event bus and its gRPC ``eventbus.v1.PubSub`` server.

:mod:`.bus` keeps change events per channel with opaque replay ids and a retention window on a
clock tests can advance; :mod:`.server` serves them over gRPC to any client built from the
published ``pubsub_api.proto``.
"""
