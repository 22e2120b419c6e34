"""``modworker demo``: the whole pipeline on this machine, with no credentials and no Redis.

What it does, in order (everything under one temporary directory)::

    demo (this process)
    ├── python -m worker.sandbox --port 0 --seed-file seed.json   (both APIs on 127.0.0.1)
    └── python -m worker.cli run -c config.yaml --processes 2 --threads 4
        ├── embedded redis-server (unix socket under the temporary state_dir)
        └── 2 worker processes

1. start the sandbox as a process, seeded with comments from :mod:`worker.demo.data`;
2. write a config using ``config.example.yaml``'s rules (found next to the ``worker``
   package), the accounts' ``api_base`` pointing at the sandbox, secrets passed to the daemon
   in its environment only (:mod:`worker.demo.setup`);
3. run the real daemon, its own process group, its JSON log in a file
   (:mod:`worker.demo.processes`, on :mod:`worker.subprocesses`);
4. add a few waves of comments over the sandbox's admin API while it runs, printing what the
   daemon decides and does as it happens (read from the audit stream in its embedded Redis,
   :mod:`worker.demo.progress`); midway, publish a WeChat mass send and a Weibo post: the
   articles are added with ``modworker targets add <link>`` as a publishing script would, the
   post is found by the Weibo account's whole-account listing, and both get comments
   (:mod:`worker.demo.scenario`);
5. after ``--duration`` seconds, once the work is done (or a grace period ran out), read the
   audit stream and rule counters, SIGTERM the daemon (it must exit 0), read the sandbox's call
   log and stop the sandbox;
6. print a summary: decisions, rule hits, actions by outcome, API calls by endpoint, batch
   sizes, example decisions and ``modworker targets list`` (:mod:`worker.demo.summary`).

Nothing it starts outlives it: a ``finally`` stops the daemon and the sandbox (SIGTERM, then
SIGKILL to their process groups), also on Ctrl-C, SIGTERM and errors, then sweeps for any
process still carrying ``MODWORKER_DEMO_DIR=<temporary directory>`` in its environment.

Exit codes (:mod:`worker.demo.command`): 0 success; 1 the demo could not run (no
``config.example.yaml`` or rules, the sandbox or the daemon did not start or did not stop
cleanly: the message says which, with the end of its log); 2 bad usage; 130 interrupted.
"""
