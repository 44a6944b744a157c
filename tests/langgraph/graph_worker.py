"""A real LangGraph graph checkpointing through the saver, in its own process (for tests).

``python graph_worker.py STORE_URL THREAD_ID RUNS_FILE first|resume``

The graph: ``intake -> approve (interrupt) -> work -> done``, each node appending to
the state's log; ``intake`` and ``work`` also append their name to RUNS_FILE, so the
test can count how often each really ran. ``first`` runs to the interrupt (printing
``interrupted``), resumes it with "yes", and blocks inside ``work`` after printing
``in-work``, waiting to be killed. ``resume`` continues the thread in a new process
and prints the final log as JSON.
"""

from __future__ import annotations

import json
import operator
import sys
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from sessionstore.adapters.langgraph import SessionStoreSaver


class State(TypedDict):
    log: Annotated[list[str], operator.add]


def main(url: str, thread_id: str, runs_file: str, mode: str) -> None:
    def ran(name: str) -> None:
        with open(runs_file, "a", encoding="utf-8") as runs:
            runs.write(name + "\n")

    def intake(state: State) -> dict[str, Any]:
        ran("intake")
        return {"log": ["intake"]}

    def approve(state: State) -> dict[str, Any]:
        answer = interrupt("approve?")
        return {"log": [f"approved:{answer}"]}

    def work(state: State) -> dict[str, Any]:
        ran("work")
        if mode == "first":
            print("in-work", flush=True)
            sys.stdin.readline()  # never answered: the test kills this process here
        return {"log": ["work"]}

    def done(state: State) -> dict[str, Any]:
        return {"log": ["done"]}

    builder = StateGraph(State)
    builder.add_node("intake", intake)
    builder.add_node("approve", approve)
    builder.add_node("work", work)
    builder.add_node("done", done)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "approve")
    builder.add_edge("approve", "work")
    builder.add_edge("work", "done")
    builder.add_edge("done", END)

    saver = SessionStoreSaver.from_url(url)
    graph = builder.compile(checkpointer=saver)
    config: Any = {"configurable": {"thread_id": thread_id}}
    if mode == "first":
        result = graph.invoke({"log": []}, config, durability="sync")
        assert "__interrupt__" in result, result
        print("interrupted", flush=True)
        graph.invoke(Command(resume="yes"), config, durability="sync")
        raise AssertionError("work should have blocked")
    snapshot = graph.get_state(config)
    print(json.dumps({"next": list(snapshot.next)}), flush=True)
    final = graph.invoke(None, config, durability="sync")
    print(json.dumps({"log": final["log"]}), flush=True)
    saver.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
