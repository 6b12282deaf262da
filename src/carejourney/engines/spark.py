"""Apache Spark through Ibis: local mode, classic clusters (spark-submit) and Spark Connect.

Store URLs:
- ``pyspark://local[2]`` — an in-process local session (tests, small machines);
- ``pyspark://`` — use the master and settings ``spark-submit`` supplies (clusters);
- ``sc://host:15002`` — a Spark Connect server (``SPARK_REMOTE`` is the default).

Sessions run in UTC so timestamps mean the same thing as on DuckDB (stored naive UTC).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import EngineError

__all__ = ["connect_spark", "spark_session", "java17_home", "warehouse_dir"]

_JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64"


def java17_home() -> str | None:
    """A Java 17 home: $JAVA_HOME if it is 17, else Debian's usual path. Spark 4.0 fails on Java 25."""
    env = os.environ.get("JAVA_HOME")
    if env and "17" in Path(env).name:
        return env
    return _JAVA17 if Path(_JAVA17).exists() else env


_WAREHOUSE: list[str] = []


def warehouse_dir() -> str:
    """The local Spark SQL warehouse folder: one per process, removed when the process exits.

    (Every session used to get a new temporary folder that nothing removed — one per CLI run or
    test session with Spark, left in the system's temporary directory.)"""
    if not _WAREHOUSE:
        _WAREHOUSE.append(tempfile.mkdtemp(prefix="carejourney-spark-"))
        atexit.register(shutil.rmtree, _WAREHOUSE[0], ignore_errors=True)
    return _WAREHOUSE[0]


def spark_session(master: str | None = "local[2]", remote: str | None = None):
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("Spark is not installed: pip install 'carejourney[spark]'") from None
    home = java17_home()
    if home:
        os.environ["JAVA_HOME"] = home
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    builder = SparkSession.builder.appName("carejourney")
    if remote:
        builder = builder.remote(remote)
    else:
        if master:
            builder = builder.master(master)
        builder = (builder.config("spark.sql.warehouse.dir", warehouse_dir())
                   .config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false")
                   .config("spark.sql.shuffle.partitions", "4")
                   .config("spark.driver.memory", os.environ.get("CAREJOURNEY_SPARK_DRIVER_MEMORY", "2g"))
                   .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    try:
        session = builder.getOrCreate()
        if not remote:
            session.sparkContext.setLogLevel("ERROR")
        return session
    except Exception as exc:
        raise EngineError(f"Spark did not start ({type(exc).__name__}: {exc}). Spark 4.0 needs Java 17: "
                          f"set JAVA_HOME (tried {home or 'none'}).") from None


def connect_spark(url: str):
    import ibis
    if url.startswith("sc://"):
        session = spark_session(remote=url)
    else:
        rest = url.removeprefix("pyspark://").strip("/")
        session = spark_session(master=rest or None) if rest else spark_session(master=None)
    return ibis.pyspark.connect(session)
