"""Manager-level lifecycle states of a servable version (upstream's ServableState).

The numbers are those of get_model_status_pb2.ModelVersionStatus.State, so the
model status API can report a state without a lookup table of its own.
"""

import enum


class ManagerState(str, enum.Enum):
    START = "START"          # the manager knows about the version; no load yet
    LOADING = "LOADING"      # load in progress (including retries)
    AVAILABLE = "AVAILABLE"  # loaded; requests may use it
    UNLOADING = "UNLOADING"  # no new requests; unloads once handles are released
    END = "END"              # unloaded, or failed to load (then with an error)

    @property
    def model_version_status_state(self) -> int:
        """The ModelVersionStatus.State enum number for this state."""
        return _PROTO_NUMBERS[self]

    def __str__(self):
        return self.value


_PROTO_NUMBERS = {
    ManagerState.START: 10,
    ManagerState.LOADING: 20,
    ManagerState.AVAILABLE: 30,
    ManagerState.UNLOADING: 40,
    ManagerState.END: 50,
}
