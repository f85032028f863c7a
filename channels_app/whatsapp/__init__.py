"""Meta's WhatsApp Cloud API wire format: payload builders, the Graph client, webhook parsing, errors.

Plain Python: nothing here imports Django or another app of the project; every credential and setting
is passed in by the caller.
"""
