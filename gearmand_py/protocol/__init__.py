"""Sans-IO Gearman protocol: the packet table, the codec and the admin reply formats."""

from gearmand_py.protocol.codec import (
    DEFAULT_MAX_PACKET_SIZE, Decoder, ResponseDecoder, encode, encode_request,
)
from gearmand_py.protocol.events import AdminCommand, Event, Fatal, Packet, Rejected
from gearmand_py.protocol.packets import PacketType

__all__ = [
    "DEFAULT_MAX_PACKET_SIZE", "AdminCommand", "Decoder", "Event", "Fatal", "Packet",
    "PacketType", "Rejected", "ResponseDecoder", "encode", "encode_request",
]
