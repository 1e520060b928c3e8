"""hjdsl: a declarative modeling language for the Hamilton–Jacobi theory of log-sum-exp layers."""

from hjdsl.errors import DataError as DataError
from hjdsl.errors import Diagnostic as Diagnostic
from hjdsl.errors import HJError as HJError
from hjdsl.errors import RunError as RunError
from hjdsl.errors import Span as Span
from hjdsl.errors import SpecError as SpecError
from hjdsl.frontend.driver import load as load
from hjdsl.frontend.driver import parse as parse
from hjdsl.model.ir import Model as Model
from hjdsl.version import __version__ as __version__

__all__ = [
    "DataError", "Diagnostic", "HJError", "Model", "RunError", "Span", "SpecError",
    "__version__", "load", "parse",
]
