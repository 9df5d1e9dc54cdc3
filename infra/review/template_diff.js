// Resource-level diff of CloudFormation templates, offline, with @aws-cdk/cloudformation-diff
// (the engine of `cdk diff`): it knows from the AWS resource specification which property
// changes replace a resource. Reads [{key, old, new}] as JSON on stdin, writes
// [{key, resources, outputs}] as JSON on stdout; Python renders and judges the result.
'use strict';

const { fullDiff } = require('@aws-cdk/cloudformation-diff');

function resourceChanges(diff) {
  const changes = [];
  diff.resources.forEachDifference((logicalId, change) => {
    const properties = Object.entries(change.propertyUpdates).map(([name, prop]) => ({
      name,
      impact: prop.changeImpact || 'WILL_UPDATE',
    }));
    changes.push({
      logicalId,
      type: change.newResourceType || change.oldResourceType,
      oldType: change.oldResourceType || null,
      newType: change.newResourceType || null,
      impact: change.changeImpact,
      deletionPolicy: (change.oldValue && change.oldValue.DeletionPolicy) || null,
      properties,
      other: Object.keys(change.otherChanges),
    });
  });
  return changes;
}

function outputChanges(diff) {
  const changes = [];
  diff.outputs.forEachDifference((name, change) => {
    const kind = change.isAddition ? 'added' : change.isRemoval ? 'removed' : 'changed';
    changes.push({ name, kind });
  });
  return changes;
}

function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const result = input.map(({ key, old, new: next }) => {
    const diff = fullDiff(old || {}, next || {});
    return { key, resources: resourceChanges(diff), outputs: outputChanges(diff) };
  });
  process.stdout.write(JSON.stringify(result));
}

main();
