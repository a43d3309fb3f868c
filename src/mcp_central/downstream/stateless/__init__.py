"""The downstream side of the stateless 2026-07-28 revision: requests without sessions.

``post`` (the wire of one request: checks, reply, ``input_required`` parking) and ``listen`` (the
wire of ``subscriptions/listen``) sit on ``exchange`` (one request's stand-in for a session, and its
target: a link or a group) and ``listener`` (a subscription's ``Downstream``), which know no HTTP.
"""
