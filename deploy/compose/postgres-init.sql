-- The registry keeps its schemas in a database of its own beside the provincial store.
CREATE DATABASE registry OWNER simpul;
