-- Argo CD health check for modelship.io/ModelDeployment, for argocd-cm's
-- resource.customizations.health.modelship.io_ModelDeployment (see docs/gitops.md).
-- It reads what kstatus reads (observedGeneration, Stalled, Reconciling, Ready), so Argo CD and
-- Flux agree; a paused or promotion-waiting rollout, and a model scaled to zero, are Suspended.
-- Argo CD opens only Lua's base and table libraries for these scripts: no string functions here.

local function describe(condition)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.reason .. ": " .. condition.message
  end
  return condition.reason
end

local status = obj.status
if status == nil or status.observedGeneration ~= obj.metadata.generation then
  return {
    status = "Progressing",
    message = "waiting for the operator to observe generation " .. tostring(obj.metadata.generation),
  }
end

local conditions = {}
for _, condition in ipairs(status.conditions or {}) do
  conditions[condition.type] = condition
end

local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = describe(stalled) }
end

local rollout = status.rollout
if rollout ~= nil and (rollout.phase == "Paused" or rollout.phase == "WaitingForPromotion") then
  return { status = "Suspended", message = rollout.message or rollout.phase }
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  return { status = "Progressing", message = describe(reconciling) }
end

local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  return { status = "Healthy", message = ready.message }
end
if ready ~= nil and ready.reason == "ScaledToZero" then
  return { status = "Suspended", message = describe(ready) }
end
return { status = "Progressing", message = ready ~= nil and describe(ready) or "no Ready condition yet" }
