"""Report sections: one module per view family, each registered with ``@section(order)``."""
