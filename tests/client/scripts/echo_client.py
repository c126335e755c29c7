# The echo client in python-gearman 2.0.2 style; only the import differs.
import sys

import gearmand_py.client.compat as gearman

client = gearman.GearmanClient(sys.argv[1:])
print(client.submit_job('echo', 'foo').result)
