"""Manager-level lifecycle states of a servable version (upstream's ServableState).

The names are those of get_model_status_pb2.ModelVersionStatus.State, which
the model status API looks them up by.
"""

import enum


class ManagerState(str, enum.Enum):
    START = "START"          # the manager knows about the version; no load yet
    LOADING = "LOADING"      # load in progress (including retries)
    AVAILABLE = "AVAILABLE"  # loaded; requests may use it
    UNLOADING = "UNLOADING"  # no new requests; unloads once handles are released
    END = "END"              # unloaded, or failed to load (then with an error)

    def __str__(self):
        return self.value
