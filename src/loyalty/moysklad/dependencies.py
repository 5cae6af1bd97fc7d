"""Process-wide MoySklad objects a request needs: the runtime and the task runner."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from loyalty.moysklad.runtime import MoySkladRuntime


class Waker(Protocol):
    def wake(self) -> None: ...


async def get_runtime(request: Request) -> MoySkladRuntime:
    runtime: MoySkladRuntime = request.app.state.moysklad_runtime
    return runtime


async def get_task_waker(request: Request) -> Waker:
    runner: Waker = request.app.state.task_runner
    return runner


RuntimeDep = Annotated[MoySkladRuntime, Depends(get_runtime)]
TaskWakerDep = Annotated[Waker, Depends(get_task_waker)]
