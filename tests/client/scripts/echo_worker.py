# The echo worker in python-gearman 2.0.2 style; only the import differs.
import sys

import gearmand_py.client.compat as gearman

worker = gearman.GearmanWorker(sys.argv[1:])


def echo(gearman_worker, gearman_job):
    return gearman_job.data


worker.register_task('echo', echo)
worker.work()
