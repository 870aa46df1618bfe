"""PACS over DICOMweb: registered endpoints only, searched, pulled through ingest, pushed to.

The endpoint registry is the allowlist: no other address is ever contacted. A URL must be
``http``/``https`` without credentials or a fragment; its host must be on the operator's
``RADLABEL_PACS_ALLOWED_HOSTS`` when that is set, and otherwise must resolve to public
addresses only (loopback, private, link-local, reserved and multicast ranges are refused).
Every connection resolves the host once, checks the addresses and connects to the checked
address itself (so a name that later resolves elsewhere is caught, not followed), redirects
are never followed, proxies from the environment are ignored, and upstream error bodies are
never echoed (502 ``pacs_error``).

Search results are the PACS's own, pre-de-identification metadata: they go to the admin who
asked and nowhere else (not stored, not logged). Pulled instances are fetched as raw bytes,
read no further than ``RADLABEL_MAX_FILE_BYTES``, and go through ``studies.instance_ingest``
like any upload (strict scan first, then de-identified, then stored); no DICOM parser sees
them before that scan. Original
study UIDs live on the import job only while it runs; afterwards it keeps their project
pseudonyms.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import re
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from dicomweb_client.api import DICOMwebClient
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from pydicom import dcmread
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from annotator import dicom
from annotator.exceptions import ApplicationError, ConflictError
from annotator.models import (
    DicomWebEndpoint,
    PacsImportJob,
    Project,
    Series,
)
from annotator.services import dicom_seg, jobs, studies
from annotator.services.audit import audit_record, audit_saved

logger = logging.getLogger(__name__)
# dicomweb-client logs searched values and UIDs at INFO, urllib3 request lines at DEBUG: both
# may carry identifying PACS metadata, so they never reach the log.
logging.getLogger("dicomweb_client").setLevel(logging.CRITICAL)
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

TIMEOUT = (5, 60)
MAX_STUDIES_PER_IMPORT = 100
MAX_INSTANCES_PER_STUDY = 10_000
MAX_SEARCH_RESULTS = 200
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_DATE = re.compile(r"^[0-9]{8}$")
_SEARCH_TEXT = re.compile(r"^[^\\\x00-\x1f]{1,64}$")


class DestinationNotAllowed(ApplicationError):
    status = 400
    code = "destination_not_allowed"


def pacs_error() -> ApplicationError:
    return ApplicationError("The PACS did not answer as expected.", code="pacs_error", status=502)


# --- Destinations ------------------------------------------------------------------------


def _allowed_hosts() -> list[str]:
    value = settings.RADLABEL_PACS_ALLOWED_HOSTS
    if isinstance(value, str):
        value = value.split(",")
    return [host.strip().lower().strip("[]") for host in value if host.strip()]


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _public(address: str) -> bool:
    """True when ``address`` is globally reachable, judged on the IPv4 address an IPv6 form
    carries: IPv4-mapped (``::ffff:0:0/96``), IPv4-compatible (``::/96``), 6to4
    (``2002::/16``) and the well-known NAT64 prefix (``64:ff9b::/96``) all reach the IPv4
    address inside them, so ``64:ff9b::7f00:1`` is 127.0.0.1. The local-use NAT64 prefix
    (``64:ff9b:1::/48``) is never global: where the IPv4 address sits in it depends on the
    operator's prefix length, so it cannot be checked."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]
    )
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_multicast


def _host_allowed(host: str, addresses: list[str]) -> bool:
    allowed = _allowed_hosts()
    if allowed:
        return host.lower() in allowed or any(a in allowed for a in addresses)
    return bool(addresses) and all(_public(a) for a in addresses)


def destination_check(url: str) -> str:
    """The URL normalised (no trailing slash) if it may be contacted, else 400."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise DestinationNotAllowed("The URL does not parse.") from error
    if parts.scheme not in ("http", "https"):
        raise DestinationNotAllowed("Only http and https PACS URLs are allowed.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise DestinationNotAllowed("Put credentials in the endpoint's auth, not in the URL.")
    if parts.fragment or "#" in url:
        raise DestinationNotAllowed("A PACS URL has no fragment.")
    if parts.query:
        raise DestinationNotAllowed("A PACS URL has no query string.")
    host = (parts.hostname or "").lower()
    if not host:
        raise DestinationNotAllowed("The URL has no host.")
    allowed = _allowed_hosts()
    if allowed and host not in allowed:
        raise DestinationNotAllowed("This host is not on the server's PACS allowlist.")
    if not allowed:
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as error:
            raise DestinationNotAllowed("The host does not resolve.") from error
        if not _host_allowed(host, [str(info[4][0]) for info in infos]):
            raise DestinationNotAllowed(
                "The host is a loopback, private, link-local or reserved address."
            )
    return url.rstrip("/")


def _pinned_address(connection: HTTPConnection) -> str:
    """Resolve the host once, check every address, and return the one to connect to."""
    try:
        infos = socket.getaddrinfo(connection._dns_host, connection.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise DestinationNotAllowed("The host does not resolve.") from error
    addresses = [str(info[4][0]) for info in infos]
    if not _host_allowed(connection.host, addresses):
        raise DestinationNotAllowed("The PACS host now resolves to a refused address.")
    return addresses[0]


def _connect(connection: HTTPConnection) -> socket.socket:
    """Connect to the checked address itself, so no second lookup can point elsewhere."""
    address = _pinned_address(connection)
    try:
        return create_connection(
            (address, connection.port),
            connection.timeout,
            source_address=connection.source_address,
            socket_options=connection.socket_options,
        )
    except TimeoutError as error:
        raise ConnectTimeoutError(connection, "The PACS did not accept a connection.") from error
    except OSError as error:
        raise NewConnectionError(connection, "The PACS refused the connection.") from error


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect(self)


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    """Every connection goes to an address checked just before; no retries, no redirects."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def _no_redirects(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if response.is_redirect or 300 <= response.status_code < 400:
        raise pacs_error()


def pacs_session(endpoint: DicomWebEndpoint) -> requests.Session:
    destination_check(endpoint.url)
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = 0
    session.mount("http://", _CheckedAdapter())
    session.mount("https://", _CheckedAdapter())
    session.hooks["response"].append(_no_redirects)
    if endpoint.auth == DicomWebEndpoint.Auth.BASIC:
        session.auth = (endpoint.username, endpoint.secret)
    elif endpoint.auth == DicomWebEndpoint.Auth.BEARER:
        session.headers["Authorization"] = f"Bearer {endpoint.secret}"
    return session


def pacs_client(
    endpoint: DicomWebEndpoint, *, session: requests.Session | None = None
) -> DICOMwebClient:
    client = DICOMwebClient(
        url=endpoint.url.rstrip("/"), session=session or pacs_session(endpoint), timeout=TIMEOUT
    )
    client.set_http_retry_params(retry=False)
    return client


def _call(endpoint: DicomWebEndpoint, operation: Callable[[], Any]) -> Any:
    """Run a DICOMweb call; every upstream failure becomes a generic 502."""
    try:
        return operation()
    except ApplicationError:
        raise
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else None
        logger.warning("PACS endpoint %s answered HTTP %s", endpoint.pk, status)
        raise pacs_error() from error
    except (
        requests.RequestException,
        urllib3.exceptions.HTTPError,
        ValueError,
        OSError,
        # A malformed answer: dicomweb-client hands the body to pydicom's JSON reader.
        AttributeError,
        KeyError,
        TypeError,
    ) as error:
        logger.warning("PACS endpoint %s failed: %s", endpoint.pk, type(error).__name__)
        raise pacs_error() from error


# --- Endpoints -----------------------------------------------------------------------------


def endpoint_state(endpoint: DicomWebEndpoint) -> dict[str, Any]:
    return {"name": endpoint.name, "url": endpoint.url, "auth": endpoint.auth}


def endpoint_create(
    *,
    project: Project,
    actor: AbstractBaseUser,
    name: str,
    url: str,
    auth: str = DicomWebEndpoint.Auth.NONE,
    username: str = "",
    secret: str = "",
) -> DicomWebEndpoint:
    url = destination_check(url)
    if auth not in DicomWebEndpoint.Auth.values:
        raise ApplicationError("auth is none, basic or bearer.", code="invalid_auth")
    if auth != DicomWebEndpoint.Auth.NONE and not secret:
        raise ApplicationError("This auth needs a secret.", code="invalid_auth")
    endpoint = DicomWebEndpoint(
        project=project, name=name, url=url, auth=auth, username=username, secret=secret
    )
    endpoint.full_clean(exclude=["project"], validate_unique=False)
    audit_saved(
        conflict=ConflictError("An endpoint with this name exists.", code="duplicate_name"),
        actor=actor,
        project=project,
        action="pacs.endpoint_created",
        obj=endpoint,
        after=endpoint_state(endpoint),
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: DicomWebEndpoint, actor: AbstractBaseUser) -> None:
    audit_record(
        actor=actor,
        project=endpoint.project,
        action="pacs.endpoint_deleted",
        obj=endpoint,
        before=endpoint_state(endpoint),
    )
    endpoint.delete()


# --- Search ----------------------------------------------------------------------------------


def _text(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _SEARCH_TEXT.match(value):
        raise ApplicationError(f"{name} is up to 64 characters of text.", code="invalid_query")
    return value


def _first(item: dict[str, Any], tag: str) -> Any:
    values = (item.get(tag) or {}).get("Value") or []
    value = values[0] if values else None
    if isinstance(value, dict):
        return value.get("Alphabetic")
    return value


def pacs_search(*, endpoint: DicomWebEndpoint, query: dict[str, Any]) -> list[dict[str, Any]]:
    """QIDO-RS study search. The answer is for the caller's eyes only: never stored or logged."""
    filters: dict[str, Any] = {}
    for field, keyword in (
        ("patient_id", "PatientID"),
        ("patient_name", "PatientName"),
        ("modality", "ModalitiesInStudy"),
        ("accession", "AccessionNumber"),
    ):
        if (value := _text(query.get(field), field)) is not None:
            filters[keyword] = value
    start, end = query.get("study_date_from"), query.get("study_date_to")
    for value, name in ((start, "study_date_from"), (end, "study_date_to")):
        if value not in (None, "") and not (isinstance(value, str) and _DATE.match(value)):
            raise ApplicationError(f"{name} is YYYYMMDD.", code="invalid_query")
    if start or end:
        filters["StudyDate"] = f"{start or ''}-{end or ''}" if start != end else start
    limit = query.get("limit") or 50
    if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_RESULTS:
        raise ApplicationError(
            f"limit is between 1 and {MAX_SEARCH_RESULTS}.", code="invalid_query"
        )
    client = pacs_client(endpoint)
    fields = [
        "PatientName",
        "PatientID",
        "StudyDate",
        "AccessionNumber",
        "StudyDescription",
        "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances",
    ]
    found = _call(
        endpoint,
        lambda: client.search_for_studies(
            search_filters=filters, limit=limit, fields=fields, fuzzymatching=False
        ),
    )
    if not isinstance(found, list):
        raise pacs_error()
    results = []
    for item in found[:limit]:
        if not isinstance(item, dict):
            continue
        modalities = (item.get("00080061") or {}).get("Value") or []
        results.append(
            {
                "study_uid": _first(item, "0020000D"),
                "patient_name": _first(item, "00100010"),
                "patient_id": _first(item, "00100020"),
                "study_date": _first(item, "00080020"),
                "accession": _first(item, "00080050"),
                "description": _first(item, "00081030"),
                "modalities": [m for m in modalities if isinstance(m, str)],
                "instances": _first(item, "00201208"),
            }
        )
    return results


# --- Import ----------------------------------------------------------------------------------


def pacs_import_create(
    *,
    project: Project,
    actor: AbstractBaseUser,
    endpoint: DicomWebEndpoint,
    study_uids: list[str],
) -> PacsImportJob:
    uids = list(dict.fromkeys(study_uids))
    if not uids or len(uids) > MAX_STUDIES_PER_IMPORT:
        raise ApplicationError(
            f"Choose 1 to {MAX_STUDIES_PER_IMPORT} studies.", code="invalid_studies"
        )
    if not all(isinstance(u, str) and len(u) <= 64 and _UID.match(u) for u in uids):
        raise ApplicationError("Study UIDs are dotted numbers.", code="invalid_studies")
    destination_check(endpoint.url)
    return jobs.job_start(
        PacsImportJob,
        project=project,
        actor=actor,
        action="pacs.import_created",
        after={"endpoint": endpoint.pk, "studies": len(uids)},
        endpoint=endpoint,
        study_uids=uids,
    )


def _counts(job: PacsImportJob) -> dict[str, Any]:
    return {"done": job.done, "total": job.total, "report": job.report}


def _closing(job: PacsImportJob) -> dict[str, Any]:
    """What every ending stores: the counts, and the study UIDs as their project pseudonyms
    (the original ones are forgotten)."""
    secret = studies.project_deid_secret(job.project)
    return {
        **_counts(job),
        "study_uids": [dicom.remap_uid(uid, project_secret=secret) for uid in job.study_uids],
    }


# What a multipart/related envelope around one Part-10 file may add to it.
_MULTIPART_OVERHEAD = 64 * 1024
_RETRIEVE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def _single_part(content_type: str, body: bytes) -> bytes:
    """The one body part of a WADO-RS answer (or the body itself, sent as application/dicom)."""
    media_type, _, parameters = content_type.partition(";")
    if media_type.strip().lower() == "application/dicom":
        return body
    boundary = next(
        (
            value.strip().strip('"')
            for name, _, value in (p.partition("=") for p in parameters.split(";"))
            if name.strip().lower() == "boundary"
        ),
        "",
    )
    if media_type.strip().lower() != "multipart/related" or not boundary:
        raise pacs_error()
    delimiter = b"--" + boundary.encode("ascii")
    parts = body.split(delimiter)
    # preamble, the part, then "--" and the epilogue after the closing delimiter
    if len(parts) != 3 or not parts[2].startswith(b"--"):
        raise pacs_error()
    _headers, separator, content = parts[1].partition(b"\r\n\r\n")
    if not separator:
        raise pacs_error()
    return content.removesuffix(b"\r\n")


def _retrieve_instance_bytes(
    *, endpoint: DicomWebEndpoint, session: requests.Session, uids: tuple[str, str, str]
) -> bytes:
    """One instance's Part-10 bytes as the PACS sent them (WADO-RS), read no further than the
    file limit allows. Nothing parses them before ingest's strict scan."""
    if not all(len(uid) <= 64 and _UID.match(uid) for uid in uids):
        raise pacs_error()
    study_uid, series_uid, sop_uid = uids
    url = f"{endpoint.url.rstrip('/')}/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
    limit = settings.RADLABEL_MAX_FILE_BYTES
    with session.get(
        url, headers={"Accept": _RETRIEVE_ACCEPT}, stream=True, timeout=TIMEOUT
    ) as response:
        response.raise_for_status()
        body = bytearray()
        for chunk in response.iter_content(chunk_size=256 * 1024):
            body += chunk
            if len(body) > limit + _MULTIPART_OVERHEAD:
                raise dicom.DicomRejected(
                    "file_too_large", f"the instance is over the limit of {limit} bytes"
                )
        content_type = response.headers.get("Content-Type", "")
    return _single_part(content_type, bytes(body))


def _study_instances(
    *, endpoint: DicomWebEndpoint, client: DICOMwebClient, study_uid: str
) -> list[dict[str, Any]]:
    """A study's instances (QIDO-RS), page by page until an empty page, and never more than
    ``MAX_INSTANCES_PER_STUDY``: a PACS that pages forever fails the import instead."""
    found: list[dict[str, Any]] = []
    while True:
        offset = len(found)
        page = _call(
            endpoint,
            lambda offset=offset: client.search_for_instances(
                study_instance_uid=study_uid,
                fields=["SeriesInstanceUID", "SOPInstanceUID"],
                offset=offset,
                get_remaining=False,
            ),
        )
        if not page:
            return found
        found += page
        if len(found) > MAX_INSTANCES_PER_STUDY:
            raise ApplicationError(
                f"A study on the PACS lists more than {MAX_INSTANCES_PER_STUDY} instances.",
                code="study_too_large",
                status=413,
            )


def pacs_import_run(*, job_id: int) -> PacsImportJob | None:
    """Pull the job's studies instance by instance, each through ingest (de-identified)."""
    return jobs.job_run(PacsImportJob, job_id, _import_work, noun="import", closing=_closing)


def _import_work(job: PacsImportJob, heartbeat: jobs.Heartbeat) -> dict[str, Any]:
    endpoint = job.endpoint
    session = pacs_session(endpoint)
    client = pacs_client(endpoint, session=session)
    plan: list[tuple[str, str, str]] = []
    for study_uid in job.study_uids:
        for item in _study_instances(endpoint=endpoint, client=client, study_uid=study_uid):
            series_uid, sop_uid = _first(item, "0020000E"), _first(item, "00080018")
            if isinstance(series_uid, str) and isinstance(sop_uid, str):
                plan.append((study_uid, series_uid, sop_uid))
    job.total, job.done, job.report = len(plan), 0, []
    heartbeat(**_counts(job), progress=0.0)
    for number, uids in enumerate(plan, start=1):
        name = f"instance {number}"
        try:
            data = _call(
                endpoint,
                lambda uids=uids: _retrieve_instance_bytes(
                    endpoint=endpoint, session=session, uids=uids
                ),
            )
        except dicom.DicomRejected as rejected:
            outcome = studies.FileOutcome(name, rejected.status, rejected.code, rejected.detail)
        else:
            outcome = studies.instance_ingest(project=job.project, name=name, data=data)
        job.report.append(outcome.as_dict())
        job.done = number
        heartbeat(**_counts(job), progress=round(job.done / job.total, 4))
    stored = sum(1 for r in job.report if r["code"] == "stored")
    failed = sum(1 for r in job.report if r["status"] >= 400)
    audit_record(
        actor=job.created_by,
        project=job.project,
        action="pacs.imported",
        obj=job,
        after={"instances": job.total, "stored": stored, "failed": failed},
    )
    logger.info("PACS import %s: %d instances, %d stored", job.pk, job.total, stored)
    return {}


# --- Push ------------------------------------------------------------------------------------


def pacs_push_seg(
    *, endpoint: DicomWebEndpoint, series: Series, actor: AbstractBaseUser
) -> dict[str, Any]:
    """STOW-RS the series' DICOM-SEG to the endpoint."""
    result = dicom_seg.series_seg_build(series=series)
    client = pacs_client(endpoint)
    dataset = dcmread(io.BytesIO(result.data))
    answer = _call(endpoint, lambda: client.store_instances([dataset]))
    failed = answer.get("FailedSOPSequence") if answer is not None else None
    if failed:
        logger.warning("PACS endpoint %s refused the SEG of series %s", endpoint.pk, series.pk)
        raise pacs_error()
    audit_record(
        actor=actor,
        project=series.study.project,
        action="pacs.seg_pushed",
        obj=series,
        after={"endpoint": endpoint.pk, **result.revision()},
    )
    return {
        **result.revision(),
        "series_instance_uid": result.series_instance_uid,
        "study_instance_uid": series.study.study_uid,
        "segments": result.segments,
    }
