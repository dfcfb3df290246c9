#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: monitor_logtree
short_description: Create the rebuild log tree, point current_rebuild at it and apply retention
version_added: "0.1.0"
description:
  - Creates C(<logs_dir>/rebuild_<YYYYmmdd>/{phase0..phase4,deployment}/{build,test,health,errors}) and
    C(deployment/{staging,production,rollback}), writes a C(README.md) into the tree and points the relative
    symlink C(<logs_dir>/current_rebuild) at it.
  - Removes rebuild trees older than O(retention_days) days (judged by the date in their name), never the tree
    C(current_rebuild) points at nor the one of O(date).
author:
  - homeiq.phase0 contributors (@homeiq)
options:
  logs_dir:
    description: The C(logs) directory (usually C(<phase0_output_dir>/logs)); created when missing.
    type: path
    required: true
  date:
    description:
      - Day of the tree, C(YYYYmmdd). Default is today on the target, unless C(current_rebuild) already points at a
        tree, which is then kept (a multi-day rebuild keeps writing into the tree it started).
    type: str
  retention_days:
    description: Trees older than this many days are removed; V(0) keeps all.
    type: int
    default: 30
  mode:
    description: Mode of the directories created.
    type: raw
    default: "0755"
attributes:
  check_mode:
    support: full
    description: Reports the directories it would create and the trees it would remove.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Prepare today's rebuild log tree and drop trees older than 30 days
  homeiq.phase0.monitor_logtree:
    logs_dir: /srv/homeiq/logs
    retention_days: 30
"""

RETURN = r"""
tree:
  description: Absolute path of the rebuild tree in use.
  returned: always
  type: str
created:
  description: Directories created (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
removed:
  description: Expired rebuild trees removed (or that would be).
  returned: always
  type: list
  elements: str
link_changed:
  description: Whether C(current_rebuild) was (re)pointed.
  returned: always
  type: bool
"""

import datetime
import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_files as mfiles


def chosen_tree(logs_dir, date):
    if date:
        day = mfiles.tree_day(mfiles.TREE_PREFIX + date)
        if day is None:
            return None, "date %r is not a valid YYYYmmdd day" % date
        return mfiles.TREE_PREFIX + date, None
    link = os.path.join(logs_dir, mfiles.CURRENT_LINK)
    if os.path.islink(link):
        target = os.path.basename(os.readlink(link).rstrip("/"))
        if mfiles.tree_day(target) and os.path.isdir(os.path.join(logs_dir, target)):
            return target, None
    return mfiles.tree_name(datetime.date.today()), None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            logs_dir=dict(type="path", required=True),
            date=dict(type="str"),
            retention_days=dict(type="int", default=30),
            mode=dict(type="raw", default="0755"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    logs_dir = params["logs_dir"]
    tree, problem = chosen_tree(logs_dir, params["date"])
    if problem:
        module.fail_json(msg=problem)
    mode = int(params["mode"], 8) if isinstance(params["mode"], str) else int(params["mode"])
    wanted = [logs_dir] + [os.path.join(logs_dir, d) for d in mfiles.tree_dirs(tree)]
    created = [d for d in wanted if not os.path.isdir(d)]
    readme = os.path.join(logs_dir, tree, "README.md")
    readme_text = mfiles.README_TEXT.format(name=tree)
    readme_changed = not os.path.isfile(readme) or open(readme).read() != readme_text
    link = os.path.join(logs_dir, mfiles.CURRENT_LINK)
    link_changed = not (os.path.islink(link) and os.readlink(link) == tree)
    existing = os.listdir(logs_dir) if os.path.isdir(logs_dir) else []
    removed = mfiles.expired_trees([n for n in existing if os.path.isdir(os.path.join(logs_dir, n))
                                    and not os.path.islink(os.path.join(logs_dir, n))],
                                   datetime.date.today(), params["retention_days"], current=tree)
    changed = bool(created or readme_changed or link_changed or removed)
    result = dict(changed=changed, tree=os.path.join(logs_dir, tree), created=created,
                  removed=[os.path.join(logs_dir, n) for n in removed], link_changed=link_changed)
    if module.check_mode or not changed:
        module.exit_json(**result)
    for directory in created:
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, mode)
    if readme_changed:
        mfiles.atomic_write(readme, readme_text)
    if link_changed:
        tmp = link + ".tmp%d" % os.getpid()
        os.symlink(tree, tmp)
        os.replace(tmp, link)  # atomic: readers always see an old or a new link
    for name in removed:
        shutil.rmtree(os.path.join(logs_dir, name))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
