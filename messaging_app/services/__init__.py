"""Writes for contacts, conversations and messages, by topic:

- contacts: who wrote, keyed on BSUID first, never forked by a number change
- inbound: storing customer messages once per wamid, and what follows them
- statuses: monotonic delivery status folded from every receipt
- outbound: the outbox (a row first, then a task), delivery, retries, the sweeper
- media: downloading what customers send
- webhooks: turning a stored webhook POST into the above
"""
