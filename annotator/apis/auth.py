from django.contrib.auth import authenticate, login, logout
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from drf_spectacular.utils import extend_schema
from knox.auth import TokenAuthentication
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.access import projects_for_user, role_for
from annotator.apis.mixins import StrictSerializer
from annotator.exceptions import ApplicationError
from annotator.services.tokens import api_token_create, api_token_revoke
from annotator.throttles import LoginRateThrottle


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_superuser = serializers.BooleanField()


class CredentialsInput(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"})


def _authenticate(request: Request) -> object:
    data = CredentialsInput(data=request.data)
    data.is_valid(raise_exception=True)
    user = authenticate(request, **data.validated_data)
    if user is None:
        raise ApplicationError("Wrong user name or password.", code="invalid_credentials")
    return user


@method_decorator(ensure_csrf_cookie, name="dispatch")
class CsrfApi(APIView):
    """Sets the ``csrftoken`` cookie the browser sends back as ``X-CSRFToken``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={204: None})
    def get(self, request: Request) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator(csrf_protect, name="dispatch")
class LoginApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=CredentialsInput, responses=UserOutput)
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        login(request._request, user)
        return Response(UserOutput(user).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(UserOutput):
        projects = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        projects = [
            {"slug": p.slug, "name": p.name, "role": role_for(project=p, user=user)}
            for p in projects_for_user(user=user)
        ]
        return Response(self.OutputSerializer({**UserOutput(user).data, "projects": projects}).data)


class TokenApi(APIView):
    """Exchange credentials for a new API token, for scripts. Not reachable with a session;
    the token is shown this once (only its digest is stored) and expires."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        expiry = serializers.DateTimeField()

    @extend_schema(request=CredentialsInput, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        user = _authenticate(request)
        instance, token = api_token_create(user=user)
        return Response(self.OutputSerializer({"token": token, "expiry": instance.expiry}).data)


class TokenRevokeApi(APIView):
    """Revoke the API token this request is authenticated with."""

    permission_classes = [IsAuthenticated]
    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        if not isinstance(request.auth, AuthToken):
            raise ApplicationError(
                "Send the token to revoke as Authorization: Token <token>.", code="token_required"
            )
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
