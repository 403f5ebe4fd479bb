"""Protobuf messages as C++ protobuf serializes them deterministically.

Deterministic serialization writes map entries sorted by key, but Python's
protobuf (upb) and C++ protobuf do not sort alike: for string keys where one
is a prefix of another, C++ compares bytes and puts the shorter key first
("a", "ab"), upb puts the longer first ("ab", "a", and "" last); integer keys
upb writes in descending order. The native data plane serializes with C++
protobuf; serialize() gives the same bytes from Python, so both planes answer
with the same bytes. Messages without such maps (nearly all: the APIs' maps
are keyed by names) are upb's own deterministic bytes, unchanged.
"""

import struct

from google.protobuf import descriptor

_F = descriptor.FieldDescriptor
_WIRE_VARINT, _WIRE_FIXED64, _WIRE_LEN, _WIRE_FIXED32 = 0, 1, 2, 5


def serialize(message) -> bytes:
    """message.SerializeToString(deterministic=True), map keys in C++'s order."""
    if not _orders_differ(message):
        return message.SerializeToString(deterministic=True)
    return bytes(_serialize(message))


# ------------------------------------------------- whether upb's bytes do

_reaches_map_cache = {}


def _reaches_map(message_type) -> bool:
    """Whether messages of this type can hold a map field, at any depth."""
    cached = _reaches_map_cache.get(message_type.full_name)
    if cached is not None:
        return cached
    _reaches_map_cache[message_type.full_name] = False  # cycles: no map found yet
    found = any(
        field.message_type is not None and (
            field.message_type.GetOptions().map_entry or _reaches_map(field.message_type))
        for field in message_type.fields)
    _reaches_map_cache[message_type.full_name] = found
    return found


def _is_map(field) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _key_bytes(key):
    return key.encode("utf-8") if isinstance(key, str) else key


def _orders_differ(message) -> bool:
    """Whether upb and C++ order some map of `message` differently: string
    keys where one is a prefix of another, or two integer keys."""
    if not _reaches_map(message.DESCRIPTOR):
        return False
    for field, value in message.ListFields():
        if _is_map(field):
            key_field = field.message_type.fields_by_name["key"]
            if key_field.cpp_type != _F.CPPTYPE_STRING:
                if len(value) > 1:
                    return True
            else:
                keys = sorted(_key_bytes(k) for k in value)
                if any(b.startswith(a) for a, b in zip(keys, keys[1:])):
                    return True
            value_type = field.message_type.fields_by_name["value"].message_type
            if value_type is not None and _reaches_map(value_type):
                if any(_orders_differ(v) for v in value.values()):
                    return True
        elif field.message_type is not None and _reaches_map(field.message_type):
            items = value if field.is_repeated else (value,)
            if any(_orders_differ(item) for item in items):
                return True
    return False


# -------------------------------------------------- C++'s bytes, by hand

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _length_delimited(number: int, payload) -> bytes:
    return _tag(number, _WIRE_LEN) + _varint(len(payload)) + bytes(payload)


def _zigzag(value: int, bits: int) -> int:
    return (value << 1) ^ (value >> (bits - 1))


# How C++ writes a map entry's key or scalar value, always present.
_SCALAR_WRITERS = {
    _F.TYPE_STRING: lambda n, v: _length_delimited(n, _key_bytes(v)),
    _F.TYPE_BYTES: lambda n, v: _length_delimited(n, v),
    _F.TYPE_INT32: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(v),
    _F.TYPE_INT64: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(v),
    _F.TYPE_UINT32: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(v),
    _F.TYPE_UINT64: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(v),
    _F.TYPE_ENUM: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(v),
    _F.TYPE_BOOL: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(int(v)),
    _F.TYPE_SINT32: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(_zigzag(v, 32)),
    _F.TYPE_SINT64: lambda n, v: _tag(n, _WIRE_VARINT) + _varint(_zigzag(v, 64)),
    _F.TYPE_FIXED32: lambda n, v: _tag(n, _WIRE_FIXED32) + struct.pack("<I", v),
    _F.TYPE_SFIXED32: lambda n, v: _tag(n, _WIRE_FIXED32) + struct.pack("<i", v),
    _F.TYPE_FLOAT: lambda n, v: _tag(n, _WIRE_FIXED32) + struct.pack("<f", v),
    _F.TYPE_FIXED64: lambda n, v: _tag(n, _WIRE_FIXED64) + struct.pack("<Q", v),
    _F.TYPE_SFIXED64: lambda n, v: _tag(n, _WIRE_FIXED64) + struct.pack("<q", v),
    _F.TYPE_DOUBLE: lambda n, v: _tag(n, _WIRE_FIXED64) + struct.pack("<d", v),
}


def _entry(entry_type, key, value) -> bytes:
    key_field = entry_type.fields_by_name["key"]
    value_field = entry_type.fields_by_name["value"]
    out = _SCALAR_WRITERS[key_field.type](key_field.number, key)
    if value_field.message_type is not None:
        out += _length_delimited(value_field.number, _serialize(value))
    else:
        out += _SCALAR_WRITERS[value_field.type](value_field.number, value)
    return out


def _map_key_order(key):
    return _key_bytes(key) if isinstance(key, (str, bytes)) else key


def _serialize(message) -> bytearray:
    """C++'s deterministic bytes: fields by number, map entries by key."""
    out = bytearray()
    for field, value in message.ListFields():
        if _is_map(field):
            for key in sorted(value, key=_map_key_order):
                out += _length_delimited(field.number, _entry(field.message_type, key,
                                                              value[key]))
        elif field.message_type is not None:
            for item in (value if field.is_repeated else (value,)):
                out += _length_delimited(field.number, _serialize(item))
        else:
            # A scalar (or repeated scalar) field alone in a message of the
            # same type is written exactly as in the whole message.
            holder = type(message)()
            if field.is_repeated:
                getattr(holder, field.name).extend(value)
            else:
                setattr(holder, field.name, value)
            out += holder.SerializeToString()
    out += _unknown_fields(message)
    return out


def _unknown_fields(message) -> bytes:
    """The fields `message` does not know, as parsed (C++ writes them last)."""
    known = type(message)()
    known.CopyFrom(message)
    full = known.SerializeToString(deterministic=True)
    known.DiscardUnknownFields()
    kept = known.SerializeToString(deterministic=True)
    # upb writes them after the known fields too.
    return full[len(kept):]
