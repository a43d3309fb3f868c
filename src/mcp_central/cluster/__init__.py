"""Replicas sharing client sessions through Redis (``mcpProxy.options.sessionStore``).

``store.RedisShare`` is the ``downstream.sharing.SessionShare`` the gateway hands its routes: it
keeps session records (a Redis hash per session, expiring with the session's idle timeout) and
runs the bus (Redis pub/sub) that carries what must cross replicas; ``bus`` turns what arrives
into calls on this replica's routes and sessions.
"""
