"""The sans-IO core of an upstream link: ``LinkCore`` (decisions), ``events`` (what it is fed and
what it answers with), ``attribution`` (who may see what the upstream starts), ``stateless`` (the
2026-07-28 upstream side). No I/O, no clock, no asyncio: ``upstream.link`` drives it."""
